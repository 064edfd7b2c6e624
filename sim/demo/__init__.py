"""The real-model demo: scikit-learn's 8×8 digits through an MLP and a small CNN, trained in
numpy, quantized (:mod:`sim.quant`) and run layer by layer on the engine
(``python -m sim.demo``)."""
