"""Internal: the ``matlab-occsens`` command (``python -m matlab_occsens``): its flags and the one-image
run (``cli``), and the result files it writes (``results``). The dataset form of the command lives
with the datasets (:mod:`matlab_occsens.datasets`)."""
