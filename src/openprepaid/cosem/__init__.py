"""DLMS/COSEM protocol, sans-IO (IEC 62056-5-3, -6-2, -46, -47): bytes in, events out. No sockets, asyncio or clocks."""
