"""Training losses: pixel losses here; adversarial, perceptual and prior losses in their own modules.

Importing this package imports torch.
"""

from facedeblur.losses.pixel import PIXEL_LOSSES, charbonnier_loss, frequency_loss, huber_loss, l1_loss

__all__ = ["PIXEL_LOSSES", "charbonnier_loss", "frequency_loss", "huber_loss", "l1_loss"]
