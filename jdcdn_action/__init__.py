"""jdcdn-action: refresh JD Cloud CDN caches from CI."""

__version__ = "0.2.0"
