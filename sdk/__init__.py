"""The library that training scripts import to report provenance to a ProML node."""
