"""Running the server: the ``fragstore`` CLI, settings, serve, logs,
metrics, the admin API and its client, background loops (GC) and the
maintenance reports."""
