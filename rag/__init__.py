"""A question-answering chatbot over a folder of articles, with checked citations.

from rag import Chatbot
bot = Chatbot.from_folder("seeds", index_dir="index")
print(bot.ask("How many prisoners were exchanged on February 5?").text)
"""

from .chatbot import AnswerStream, Chatbot
from .errors import RagError
from .evaluation import evaluate
from .records import Answer, Citation, Document, Hit

__all__ = ["Answer", "AnswerStream", "Chatbot", "Citation", "Document", "Hit", "RagError", "evaluate"]
__version__ = "0.1.0"
