function X = probeImage(imageSize, pattern, className)
    % PROBEIMAGE A case image of cases.json: a pattern of positive values.
    %   X = probeImage([H W C], pattern, className) at row r, column c,
    %   channel k holds mod(7r + 13c + 29k, 251) + 1 ("integer"), plus
    %   mod(r + 2c + 3k, 4) / 4 for "fraction", cast to className.

    extent = [reshape(imageSize, 1, []), 1];
    [r, c, k] = ndgrid(1:extent(1), 1:extent(2), 1:extent(3));
    values = mod(7 * r + 13 * c + 29 * k, 251) + 1;
    if strcmp(pattern, 'fraction')
        values = values + mod(r + 2 * c + 3 * k, 4) / 4;
    end
    X = cast(values, className);
end
