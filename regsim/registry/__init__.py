"""The system layer: a real OCI registry library. It never imports the simulator."""
