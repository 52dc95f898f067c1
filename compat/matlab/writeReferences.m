function writeReferences(outputFolder)
    % WRITEREFERENCES Run the case matrix and save one .mat file per case.
    %   writeReferences(outputFolder) reads compat/cases.json, runs each of
    %   its cases in this MATLAB and saves the inputs, the result (or the
    %   error) and the MATLAB version. "" writes to
    %   compat/references/matlab-<release>.

    kitFolder = fileparts(mfilename("fullpath"));
    if strlength(outputFolder) == 0
        outputFolder = fullfile(kitFolder, "..", "references", ...
                                "matlab-" + version("-release"));
    end
    if ~isfolder(outputFolder)
        mkdir(outputFolder);
    end
    matrix = jsondecode(fileread(fullfile(kitFolder, "..", "cases.json")));
    release = {version(), toolboxVersion()};
    for index = 1:numel(matrix.occlusion)
        spec = entry(matrix.occlusion, index);
        saveRecord(occlusionReference(spec, outputFolder), release, ...
                   outputFolder);
    end
    for index = 1:numel(matrix.imresize)
        spec = entry(matrix.imresize, index);
        saveRecord(imresizeReference(spec), release, outputFolder);
    end
    fprintf("Wrote %d cases to %s\n", ...
            numel(matrix.occlusion) + numel(matrix.imresize), outputFolder);
end

function spec = entry(list, index)
    % jsondecode gives a struct array, or a cell array when fields differ.
    if iscell(list)
        spec = list{index};
    else
        spec = list(index);
    end
end

function text = toolboxVersion()
    info = ver("nnet");
    text = "";
    if ~isempty(info)
        text = "Deep Learning Toolbox " + info(1).Version;
    end
end

function saveRecord(record, release, outputFolder)
    % scipy.io.loadmat reads -v7 files; text is saved as char for it.
    record.matlab_version = char(release{1});
    record.toolbox_version = char(release{2});
    save(fullfile(outputFolder, record.name + ".mat"), "-struct", ...
         "record", "-v7");
    outcome = "ok";
    if isfield(record, "error_message") && ~isempty(record.error_message)
        outcome = "MATLAB raised: " + record.error_message;
    end
    fprintf("%-36s %s\n", record.name, outcome);
end
