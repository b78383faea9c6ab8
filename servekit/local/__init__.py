"""Run the very model.tar.gz that synth uploads in the real model server on this machine.

Contract used by the CLI (`servekit serve`, `servekit invoke`, `servekit bench`):

    start(endpoint, artifact_path, *, workdir, port=None, progress=print) -> LocalEndpoint
        endpoint: a servekit.config endpoint; artifact_path: its built model.tar.gz.
        LocalEndpoint: .url (http://127.0.0.1:<port>, serving /ping and /invocations), .stop(),
        context manager, .emulated (True where the real server cannot run here), .differences
        (lines saying what differs from the cloud container), .startup_seconds.
"""
