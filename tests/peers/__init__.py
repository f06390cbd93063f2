"""Real peers the tests (and benchmarks) start on 127.0.0.1: MediaWiki, OAuth server, proxies."""
