function weights = probeWeights(inputSize, probe)
    % PROBEWEIGHTS The probe's weights, in MATLAB's layout.
    %   weights = probeWeights([H W C], probe) gives one field per layer:
    %   h-by-w-by-inputChannels-by-filters arrays (and -by-groups for the
    %   channel-wise layers rowsum and colsum), every weight 0 or 1. The
    %   same as probe_weights in compat/probe.py.

    height = inputSize(1);
    width = inputSize(2);
    channels = inputSize(3);
    weights = struct();
    weights.pixels = reshape(eye(channels, "single"), 1, 1, channels, ...
                             channels);
    weights.rows = zeros(height, 1, channels, height, "single");
    for row = 1:height
        weights.rows(row, 1, :, row) = 1;
    end
    if strcmp(probe, 'rowtime')
        return
    end
    weights.rowsum = ones(1, width, 1, 1, height, "single");
    weights.cols = zeros(1, width, channels, width, "single");
    for col = 1:width
        weights.cols(1, col, :, col) = 1;
    end
    weights.colsum = ones(height, 1, 1, 1, width, "single");
    weights.planes = zeros(height, width, channels, channels, "single");
    for channel = 1:channels
        weights.planes(:, :, channel, channel) = 1;
    end
end
