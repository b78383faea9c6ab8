"""The parts of servekit.yaml's schema that no server owns: model sources (sources.py), what every endpoint
has (endpoint.py) and how a validation error reads (errors.py). Each server's schema builds on them."""
