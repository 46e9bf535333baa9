"""Files -> Volume (raw arrays, geometry checked). nibabel lives only here."""
