"""The embedded TAU-like dataset generator (``python -m asc_core data synth``): scenes built from sound layers
in simulated rooms, recorded by simulated devices, written in the TAU22 development layout. Apart from the
TAU22 reader (``asc_core.data``), which reads what this writes exactly as it reads the real set."""
