"""``python -m build_tools {build,validate,layout,docs,image}`` — what the Makefile targets run.

* ``build``: dist/integration-MicrosoftGraphUser.yml and dist/MicrosoftGraphUser.zip, made by demisto-sdk
  prepare-content on the content layout (needs ``make build-env``).
* ``validate``: demisto-sdk validate on the layout with build_tools/validation_config.toml, offline.
* ``layout DIR``: only write the content layout to DIR (to run other demisto-sdk commands by hand).
* ``docs [--check]``: rewrite README.md's generated block from the yml; ``--check`` only reports drift.
* ``image``: redraw MicrosoftGraphUser_image.png.
"""
import argparse
import sys
from pathlib import Path

from build_tools import INTEGRATION, PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m build_tools', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest='step', required=True)
    steps.add_parser('build', help='unified yml and pack zip in dist/ (demisto-sdk prepare-content)')
    steps.add_parser('validate', help='demisto-sdk validate on the content layout, offline')
    layout = steps.add_parser('layout', help='write the content layout only')
    layout.add_argument('directory', type=Path)
    docs = steps.add_parser('docs', help="regenerate README.md's generated block")
    docs.add_argument('--check', action='store_true', help='exit 1 when README.md is out of date, change nothing')
    steps.add_parser('image', help=f'redraw {INTEGRATION}_image.png')
    args = parser.parse_args(argv)

    # Imported per step: `docs` and `image` must work without demisto-sdk and without git.
    if args.step in ('build', 'validate'):
        from build_tools.build import build_dist, validate_layout
        from build_tools.sdk import SdkError
        try:
            build_dist() if args.step == 'build' else validate_layout()
        except (SdkError, FileNotFoundError) as error:
            print(f'{args.step} failed: {error}', file=sys.stderr)
            return 1
    elif args.step == 'layout':
        from build_tools.layout import build_layout
        print(build_layout(args.directory.resolve()).root)
    elif args.step == 'docs':
        from build_tools.readme import ReadmeMarkersError, readme_drift, update_readme
        try:
            if args.check:
                drift = readme_drift()
                sys.stdout.write(drift or 'README.md is up to date\n')
                return 1 if drift else 0
            print('README.md updated' if update_readme() else 'README.md is up to date')
        except (ReadmeMarkersError, ValueError) as error:
            print(f'docs failed: {error}', file=sys.stderr)
            return 1
    elif args.step == 'image':
        from build_tools.png import write_logo
        write_logo(PROJECT_ROOT / f'{INTEGRATION}_image.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
