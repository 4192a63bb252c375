"""The sample trial (synthetic JobFirst-like data), shipped with the package for ``trialeval demo``."""
