"""The model servers servekit knows, one package each (servekit/servers/<name>/): its schema, container
environment, artifact layout and build, checks, construct, local server, bench payloads and container-side
handlers. servekit.servers.base defines what a server answers; servekit.registry lists them. This package's
own module imports nothing, so importing one server's module never loads the others.
"""
