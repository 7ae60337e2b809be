"""Infrastructure: settings, store wiring, event bus, CLI, logging, metrics, process runners."""
