"""Gateway mode: the harness as both the client of a gateway and, through a recording upstream, its upstream."""
