"""The model layer: SimPy models that drive the real registry and price its receipts."""
