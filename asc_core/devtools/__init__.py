"""Developer tools, apart from the library: benchmarks (``python -m asc_core bench``) and fake finished runs
for page-speed measurements and tests."""
