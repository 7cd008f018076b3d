"""Stage evaluate: fine-tune a pre-trained encoder per downstream task, measure mIoU on the fixed test
split, and cross-dataset transfer."""
