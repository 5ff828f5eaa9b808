"""Tools for checking convprop against PyTorch, shipped with the package so that benchmarks and users'
own tests can use them without the test suite. They need PyTorch (``pip install torch==2.13.0``);
convprop itself never imports this package."""
