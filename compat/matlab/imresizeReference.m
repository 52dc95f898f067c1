function record = imresizeReference(spec)
    % IMRESIZEREFERENCE One imresize case of cases.json and MATLAB's output.
    %   record = imresizeReference(spec) resizes the case's image to its
    %   output size (or by its scale) with its method and antialiasing.

    A = probeImage(spec.size, spec.pattern, spec.class);
    if isempty(spec.output_size)
        target = spec.scale;
    else
        target = reshape(spec.output_size, 1, []);
    end
    record = struct();
    record.kind = 'imresize';
    record.name = spec.name;
    record.A = A;
    record.method = spec.method;
    record.output_size = reshape(spec.output_size, 1, []);
    record.scale = spec.scale;
    record.antialiasing = spec.antialiasing;
    record.B = imresize(A, target, spec.method, ...
                        "Antialiasing", spec.antialiasing);
end
