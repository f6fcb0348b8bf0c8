"""`make demo`: the real integration, end to end, against the local emulator.

Starts the emulator with a seeded tenant, then runs each command in a fresh process through the local runner — the
way the XSOAR server runs it — first a tour under client credentials, then the Test button and one command in every
other authentication mode. Prints what it does as it goes and stops the emulator at the end.
"""
import sys
import tempfile
import time

import emulator
from demo.tour import Tour


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='msgraph-user-demo-') as work_dir:
        print('Starting the local Entra ID + Microsoft Graph emulator (200 seeded users)...')
        with emulator.start(users=200, state_dir=f'{work_dir}/emulator') as instance:
            print(f'  Entra ID and Graph: {instance.base_url}    IMDS: {instance.imds_url}')
            tour = Tour(instance, f'{work_dir}/runner')
            tour.client_credentials_tour()
            tour.other_modes()
        print('Emulator stopped.')
    print(f'\nDemo finished in {time.monotonic() - started:.1f} s: '
          f'{tour.passed} commands as expected, {tour.failed} not.')
    return 1 if tour.failed else 0


if __name__ == '__main__':
    sys.exit(main())
