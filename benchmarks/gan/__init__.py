"""The reference GAN workload: a DCGAN trained against fragstore through boto3.

Dataset images, checkpoints, sample images and losses all live in the store;
``python -m benchmarks.gan train --help`` lists the options.
"""
