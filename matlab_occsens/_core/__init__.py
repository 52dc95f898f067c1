"""Internal: the core of ``occlusionSensitivity``: its options (``options``), the mask grid
(``grid``), the map itself (``occlusion``), MATLAB's older call forms (``callforms``), ``predict``,
class names (``labels``) and channel totals (``activations``). The public names are re-exported
by :mod:`matlab_occsens`."""
