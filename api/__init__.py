"""pingan's application: settings, storage, services, the HTTP API and the command line."""
