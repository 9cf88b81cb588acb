"""Bundles: file-defined patient-safety intervention bundles (see :mod:`sim.bundles.bundle`)."""

from sim.bundles.bundle import Bundle, Element, load_bundle_file, resolve_bundle, shipped_bundles

__all__ = ["Bundle", "Element", "load_bundle_file", "resolve_bundle", "shipped_bundles"]
