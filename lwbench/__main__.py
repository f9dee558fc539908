from lwbench.cli import run

run()
