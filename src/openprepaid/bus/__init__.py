"""Internal events between the parts: in-process (default) and NATS JetStream (multi-node) behind one interface."""
