"""Speed and memory of matlab-occsens, one script per question, each run from the repository root
as ``python -m benchmarks.<script>`` (``--smoke``: seconds, run by CI so that none can rot).
``_common`` holds what the scripts share. The scripts reach the package's internals only through
``matlab_occsens._hooks``."""
