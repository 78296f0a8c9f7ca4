"""The Spark session, its memory checks, packaging for clusters and test faults."""
