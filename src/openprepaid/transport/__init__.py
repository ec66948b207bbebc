"""asyncio transports around the sans-IO cosem core: dial a meter, accept meters that dial in, push listener."""
