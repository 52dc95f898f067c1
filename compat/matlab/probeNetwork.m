function net = probeNetwork(weights, inputSize, probe, output)
    % PROBENETWORK A linear network whose occlusion map shows every mask.
    %   net = probeNetwork(weights, [H W C], probe, output) builds the
    %   probe "rowcol" or "rowtime" (see compat/probe.py) from the weights
    %   of probeWeights as a dlnetwork whose output is the layer named
    %   output. Every weight is 0 or 1 and the input layer does no
    %   normalisation, so integer images give exact activations.
    %
    %   rowcol: pixels (1x1, identity) feeds rows ([H 1] with H filters,
    %   filter r picks row r) then rowsum (channel-wise [1 W] of ones);
    %   cols ([1 W], W filters) then colsum; and planes ([H W], filter k
    %   sums channel k). probe concatenates rowsum, colsum and planes:
    %   H + W + C channels, one per row, column and image channel.
    %   rowtime: pixels, rows, then time, which reads the 1-by-W-by-H
    %   output of rows as H channels over W time steps.
    %   output "pixels" stops after pixels: the intermediate layer with
    %   the image's full spatial extent.

    layers = [imageInputLayer(inputSize, "Normalization", "none", ...
                              "Name", "input")
              convolution("pixels", weights.pixels)];
    if strcmp(output, 'pixels')
        net = dlnetwork(layers);
        return
    end
    if strcmp(probe, 'rowtime')
        net = dlnetwork([layers
                         convolution("rows", weights.rows)
                         functionLayer(@rowsAsTime, "Formattable", true, ...
                                       "Name", "time")]);
        return
    end
    graph = layerGraph(layers);
    graph = addLayers(graph, [convolution("rows", weights.rows)
                              channelSum("rowsum", weights.rowsum)]);
    graph = addLayers(graph, [convolution("cols", weights.cols)
                              channelSum("colsum", weights.colsum)]);
    graph = addLayers(graph, convolution("planes", weights.planes));
    graph = addLayers(graph, depthConcatenationLayer(3, "Name", "probe"));
    graph = connectLayers(graph, "pixels", "rows");
    graph = connectLayers(graph, "pixels", "cols");
    graph = connectLayers(graph, "pixels", "planes");
    graph = connectLayers(graph, "rowsum", "probe/in1");
    graph = connectLayers(graph, "colsum", "probe/in2");
    graph = connectLayers(graph, "planes", "probe/in3");
    net = dlnetwork(graph);
end

function layer = convolution(name, weights)
    % A convolution without bias whose filters are the given weights.
    filters = size(weights, 4);
    layer = convolution2dLayer([size(weights, 1), size(weights, 2)], ...
                               filters, "Name", name, ...
                               "Weights", weights, ...
                               "Bias", zeros(1, 1, filters, "single"));
end

function layer = channelSum(name, weights)
    % A channel-wise convolution of ones: each channel summed over a window.
    groups = size(weights, 5);
    layer = groupedConvolution2dLayer([size(weights, 1), size(weights, 2)], ...
                                      1, "channel-wise", "Name", name, ...
                                      "Weights", weights, ...
                                      "Bias", zeros(1, 1, 1, groups, ...
                                                    "single"));
end

function Y = rowsAsTime(X)
    % The 1-by-W-by-H output of rows as H channels over W time steps.
    Y = dlarray(permute(stripdims(X), [3 4 2 1]), "CBT");
end
