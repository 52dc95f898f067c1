function record = occlusionReference(spec, outputFolder)
    % OCCLUSIONREFERENCE One occlusionSensitivity case of cases.json.
    %   record = occlusionReference(spec, outputFolder) builds the case's
    %   image and probe network, runs occlusionSensitivity on them and
    %   returns everything needed to replay the call: image, weights,
    %   channels, options, and MATLAB's scoreMap or the error it raised
    %   (building the network included, so one case cannot stop the run).
    %   The full probe is exported to ONNX into outputFolder.

    inputSize = reshape(spec.size, 1, []);
    weights = probeWeights(inputSize, spec.probe);
    record = struct();
    record.kind = 'occlusion';
    record.name = spec.name;
    record.about = spec.about;
    record.X = probeImage(inputSize, spec.pattern, spec.class);
    record.probe = spec.probe;
    record.input_size = inputSize;
    record.output = spec.output;
    record.weights = weights;
    record.onnx_file = exportProbe(weights, inputSize, spec.probe, ...
                                   outputFolder);
    record.channelIdx = caseChannels(spec, inputSize);
    record.options = caseOptions(spec.options);
    record.matlab_may_reject = spec.matlab_may_reject;
    record.totals = [];
    record.scoreMap = [];
    record.scoreMap_class = '';
    record.error_identifier = '';
    record.error_message = '';

    pairs = namedargs2cell(record.options);
    try
        net = probeNetwork(weights, inputSize, spec.probe, spec.output);
        record.totals = totalActivations(net, record.X);
        scoreMap = occlusionSensitivity(net, record.X, record.channelIdx, ...
                                        pairs{:});
        if isa(scoreMap, "dlarray")
            scoreMap = extractdata(scoreMap);
        end
        record.scoreMap = gather(scoreMap);
        record.scoreMap_class = class(record.scoreMap);
    catch failure
        record.error_identifier = failure.identifier;
        record.error_message = failure.message;
    end
end

function channelIdx = caseChannels(spec, inputSize)
    % The channels of the case; "all" is every channel of the output layer.
    if ~ischar(spec.channels)
        channelIdx = reshape(spec.channels, 1, []);
        return
    end
    switch spec.output
        case 'probe'
            count = sum(inputSize);
        case 'pixels'
            count = inputSize(3);
        otherwise
            count = inputSize(1);
    end
    channelIdx = 1:count;
end

function options = caseOptions(given)
    % The options as MATLAB takes them: sizes as row vectors, one MaskValue
    % per channel along the third (channel) dimension, run on the CPU.
    options = given;
    names = {'MaskSize', 'Stride'};
    for index = 1:numel(names)
        name = names{index};
        if isfield(options, name) && isnumeric(options.(name))
            options.(name) = reshape(options.(name), 1, []);
        end
    end
    if isfield(options, 'MaskValue') && isnumeric(options.MaskValue)
        options.MaskValue = reshape(options.MaskValue, 1, 1, []);
    end
    options.ExecutionEnvironment = 'cpu';
end

function totals = totalActivations(net, X)
    % Every output channel's total activation on the unoccluded image (the
    % sum over its spatial and time dimensions): Python checks that it runs
    % the same network before it compares maps.
    Y = predict(net, dlarray(single(X), "SSCB"));
    dims = [finddim(Y, "S"), finddim(Y, "T")];
    values = extractdata(Y);
    if ~isempty(dims)
        values = sum(values, dims);
    end
    totals = double(reshape(values, 1, []));
end

function fileName = exportProbe(weights, inputSize, probe, outputFolder)
    % The full probe as ONNX, so that Python runs the network MATLAB ran;
    % '' when it cannot be exported (the rowtime probe's functionLayer, or
    % no ONNX converter): Python then rebuilds it from the saved weights.
    fileName = '';
    if ~strcmp(probe, 'rowcol')
        return
    end
    name = sprintf('probe_rowcol_%dx%dx%d.onnx', inputSize);
    target = fullfile(outputFolder, name);
    try
        if ~isfile(target)
            net = probeNetwork(weights, inputSize, probe, 'probe');
            exportONNXNetwork(net, target);
        end
        fileName = name;
    catch failure
        warning("make_references:onnx", "%s not exported: %s", name, ...
                failure.message);
    end
end
