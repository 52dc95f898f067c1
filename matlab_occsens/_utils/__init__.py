"""Internal: generic helpers that know nothing of occlusion: MATLAB name-value parsing, argument
checks, user warnings, the install command every "install X" message prints, files written as
one set, and a bounded least-recently-used cache."""
