% MAKE_REFERENCES Write MATLAB's answers to the cross-check cases.
%
% From MATLAB, in the repository root or anywhere else:
%
%     run compat/matlab/make_references.m
%
% runs every case of compat/cases.json through occlusionSensitivity and
% imresize and saves one .mat file per case (save -v7), plus the probe
% networks as ONNX files, into outputFolder. Set outputFolder before the
% run to choose the folder; by default it is
% compat/references/matlab-<release>. Then, from the repository root:
%
%     python -m compat.crosscheck compat/references/matlab-<release>
%
% Needs MATLAB R2024a or newer with Deep Learning Toolbox and Image
% Processing Toolbox. The ONNX files need the Deep Learning Toolbox
% Converter for ONNX Model Format; without it the .mat files are enough,
% since the crosscheck rebuilds the probes from the weights they hold.

if ~exist("outputFolder", "var")
    outputFolder = "";
end
writeReferences(outputFolder);
