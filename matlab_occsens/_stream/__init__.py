"""Internal: the occluded images of one or many maps, streamed in batches.

``job`` states the one rule (what image ``i`` of a map is, which pixels its mask covers) and
builds batches on the host; ``sequence`` joins several maps' jobs into one stream whose batches
may mix images; ``drive`` runs a stream on an engine (batch sizes, the batch-size search,
run-ahead, device-side occlusion); ``batch_size`` is the search; ``run_ahead`` keeps a device busy.
"""
