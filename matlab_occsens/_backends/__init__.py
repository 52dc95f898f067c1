"""Internal: the runtimes that compute forward passes (ONNX Runtime, torch), each behind the
:class:`~matlab_occsens._backends.engine.Engine` contract, with its own device-side occlusion.

Module names say which library each wraps without shadowing it (``ort``, ``torch_engine``,
``onnx2torch_engine``). Only ``engine`` and ``cpu`` are imported eagerly; a runtime's module is
imported when a network that needs it is built, so torch stays an optional extra.
"""
