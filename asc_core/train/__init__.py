"""Training engine: augmentations, distillation, Lightning module and data, teachers, evaluation."""
