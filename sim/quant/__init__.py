"""Post-training quantization for the engine's formats: calibration (:mod:`.calibrate`),
scales and the engine's requantization parameters (:mod:`.scales`), fake quantization
(:mod:`.fake`) and quantization-aware fine-tuning with a straight-through estimator
(:mod:`.qat`). numpy only; the engine runs live in :mod:`sim.demo.engine`."""
