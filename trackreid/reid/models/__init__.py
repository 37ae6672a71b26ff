"""ReID network architectures: OSNet family, BDB, PMM."""
