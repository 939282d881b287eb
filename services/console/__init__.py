"""The console: server-rendered pages for officers and residents over the three services'
HTTP APIs. It owns no data."""
