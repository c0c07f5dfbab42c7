"""A question-answering chatbot over a folder of articles, with checked citations.

from rag import Chatbot
bot = Chatbot.from_folder("seeds", index_dir="index")
print(bot.ask("How many prisoners were exchanged on February 5?").text)
"""

from rag.chatbot import AnswerStream, Chatbot
from rag.errors import RagError
from rag.evaluation.run import evaluate
from rag.records import Answer, Citation, Document, Hit

__all__ = ["Answer", "AnswerStream", "Chatbot", "Citation", "Document", "Hit", "RagError", "evaluate"]
__version__ = "0.1.0"
