from llm_train.utils.registry import Registry

STEPS = Registry("step")
