"""Internal: the occluded images of a map, streamed in batches.

``job`` says what the images are and builds them on the host, ``batch_size`` finds the batch
size a CPU runs fastest at, ``run_ahead`` keeps a device busy while the host handles results.
"""
