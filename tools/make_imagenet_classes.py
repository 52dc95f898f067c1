"""Regenerate ``matlab_occsens/data/imagenet_classes.txt`` from torchvision's class list.

No model wheel ships the ImageNet-1k class names, so the project keeps its own copy. torchvision's
list is in the standard class-index order used by EfficientNet-Lite0 and every torchvision model,
with duplicate WordNet names already made unique. Run: ``python tools/make_imagenet_classes.py``.
"""

from pathlib import Path

from torchvision.models._meta import _IMAGENET_CATEGORIES

TARGET = Path(__file__).resolve().parents[1] / "matlab_occsens" / "data" / "imagenet_classes.txt"


def main() -> None:
    names = list(_IMAGENET_CATEGORIES)
    if len(names) != 1000 or len(set(names)) != 1000 or names[967] != "espresso":
        raise SystemExit("unexpected torchvision class list: refusing to write")
    TARGET.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"wrote {len(names)} names to {TARGET}")


if __name__ == "__main__":
    main()
