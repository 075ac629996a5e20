"""Name lists of the held-out evaluation set (``holdout.py``), kept apart from the tuning
set's lists (``generate.py``): the matcher was never tuned on them.

- Given names: the most common names of the U.S. Social Security Administration's
  baby-name data (public domain), in the order of ``maxoccurbysex.txt`` of the public
  repository hackerb9/ssa-baby-names (name, sex); names of the tuning set left out.
- Surnames: common surnames of Canada, the U.S., Britain, France, Italy, Quebec, China,
  India, Vietnam, Korea and the Philippines, written for this set; the tuning set's
  surnames left out.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


FIRST_M = _words("""
James Michael Robert John David William Christopher Richard Mark Jason Matthew Thomas
Joshua Charles Gary Daniel Steven Brian Andrew Jacob Justin Larry Ronald Jeffrey Joseph
Scott Timothy Kevin Tyler Donald Ryan Brandon Nicholas Kenneth George Paul Austin Zachary
Anthony Dennis Jonathan Adam Eric Stephen Kyle Ethan Gregory Jeremy Edward Liam Alexander
Cody Noah Mason Jerry Jayden Frank Douglas Randy Dylan Jordan Christian Aiden Benjamin
Terry Todd Logan Aaron Samuel Patrick Bruce Nathan Harold Oliver Elijah Chad Ricky Walter
Roger Gabriel Lucas Raymond Jose Shawn Jack Cameron Jackson Hunter Keith Sean Gavin Caleb
Peter Travis Gerald Henry Rodney Craig Carter Arthur Luke Landon Isaiah Jesse Dustin
Lawrence Owen Evan Sebastian Isaac Wayne Albert Aidan Connor Harry Eugene Wyatt Billy
Brayden Danny Alan Levi Mateo Ralph Bryan Grayson Theodore Dale Troy Julian Diego Derek
Carl Tony Juan Lincoln Jaxon Eli Herbert Luis Corey Adrian Jimmy Warren Bobby Jeremiah
Howard Asher Roy Leo Russell Jared Johnny Chase Glenn Clarence Louis Bradley Randall
Josiah Carlos Nathaniel Hudson Earl Ezra Seth Ian Trevor Barry Xavier Fred Colton Hayden
Cory Stanley Dominic Brody Philip Alfred Vincent Ronnie Shaun Martin Blake Phillip Cole
Marcus Darren Elias Garrett Nolan Parker Shane Ernest Tristan Leonard Norman Curtis
Mitchell Franklin Cooper Miles Carson Allen Colin Antonio Dillon Brett Spencer Joel
""")
FIRST_F = _words("""
Linda Mary Jennifer Lisa Patricia Jessica Ashley Deborah Debra Barbara Susan Shirley
Amanda Karen Dorothy Cynthia Betty Brittany Donna Helen Sandra Michelle Carol Kimberly
Melissa Nancy Amy Sharon Sarah Margaret Pamela Kathleen Emily Ruth Angela Samantha Judith
Stephanie Brenda Heather Cheryl Kathy Lori Diane Hannah Nicole Isabella Emma Sophia
Madison Taylor Tammy Lauren Joan Judy Elizabeth Carolyn Cindy Megan Olivia Alexis Debbie
Virginia Crystal Laura Teresa Kayla Janet Tracy Tiffany Kelly Julie Mildred Ava Christine
Danielle Amber Rebecca Joyce Christina Doris Rachel Chelsea Frances Janice Abigail Dawn
Anna Robin Courtney Denise Mia Erin Tina Evelyn Alyssa Shannon Charlotte Victoria Amelia
Jamie Brianna Dolores Grace Marie Gloria Jean Kim Jasmine Catherine Jacqueline Theresa
Alice Addison Chloe Marilyn Kelsey Andrea Katherine April Sara Florence Beverly Wendy
Michele Marjorie Natalie Rhonda Cathy Morgan Harper Alexandra Laurie Martha Irene Lois
Sydney Shelby Bonnie Maria Paula Peggy Lillian Connie Erica Jane Gail Ella Destiny Rose
Kristin Sofia Avery Whitney Kristen Diana Sherry Phyllis Louise Stacy Haley Ann Lindsey
Julia Gladys Hailey Terri Sheila Norma Kaitlyn Edna Josephine Carrie Lindsay Kathryn
Eleanor Carole Ruby Katie Darlene Vicki Lily Mila Allison Camila Ethel Aubrey Roberta
Georgia Nicola Samara Erica Danielle
""")
# Pairs of distinct names the set uses for twins and siblings (a name and one close to it).
CLOSE_PAIRS = [
    ("Robert", "Roberta"),
    ("George", "Georgia"),
    ("Nicholas", "Nicola"),
    ("Mitchell", "Michelle"),
    ("Samuel", "Samara"),
    ("Jack", "Jackson"),
    ("Daniel", "Danielle"),
    ("Eric", "Erica"),
    ("Carl", "Carla"),
    ("Paul", "Paula"),
]
# Short forms people type (the set's own list, not the matcher's nickname file).
SHORT = {
    "James": "Jim",
    "Michael": "Mike",
    "Robert": "Bob",
    "William": "Will",
    "Christopher": "Chris",
    "Richard": "Rick",
    "Matthew": "Matt",
    "Thomas": "Tom",
    "Joshua": "Josh",
    "Daniel": "Dan",
    "Steven": "Steve",
    "Andrew": "Andy",
    "Jeffrey": "Jeff",
    "Joseph": "Joe",
    "Timothy": "Tim",
    "Kenneth": "Ken",
    "Anthony": "Tony",
    "Gregory": "Greg",
    "Edward": "Ed",
    "Alexander": "Alex",
    "Benjamin": "Ben",
    "Samuel": "Sam",
    "Nathan": "Nate",
    "Patricia": "Pat",
    "Jennifer": "Jen",
    "Deborah": "Deb",
    "Barbara": "Barb",
    "Susan": "Sue",
    "Kimberly": "Kim",
    "Margaret": "Maggie",
    "Kathleen": "Kathy",
    "Samantha": "Sam",
    "Stephanie": "Steph",
    "Elizabeth": "Liz",
    "Rebecca": "Becky",
    "Victoria": "Vicky",
    "Katherine": "Kate",
    "Alexandra": "Alex",
    "Abigail": "Abby",
    "Jacqueline": "Jackie",
}
LAST = _words("""
Anderson Taylor Thomas Moore Jackson Martin Thompson White Harris Clark Lewis Robinson
Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker
Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz
Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan
Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel
Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander
Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson
Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns
Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz
Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills
Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne
Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart
Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews
Tremblay Gagnon Roy Cote Bouchard Gauthier Morin Lavoie Fortin Gagne Ouellet Pelletier
Belanger Levesque Bergeron Leblanc Paquette Girard Simard Boucher Caron Beaulieu Cloutier
Dube Poirier Fournier Lapointe Leclerc Lefebvre Poulin Thibault Martel Vachon Mercier
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin
Singh Kumar Sharma Gupta Shah Mehta Joshi Reddy Nair Iyer Das Chopra Malhotra
Pham Hoang Phan Vu Dang Bui Do Ho Ngo Duong Ly Park Choi Jung Kang Cho Yoon Jang Lim
Santos Reyes Dela Cruz Bautista Ocampo Mendoza Garcia Aquino Villanueva
Saint-Pierre Lafleur-Dion Van der Meer O'Connor MacLeod Da Silva De Luca Nowak Kowalski
""")
# Surnames with several words (the split above breaks them): listed apart.
LAST_COMPOUND = [
    "Dela Cruz",
    "Van der Meer",
    "Da Silva",
    "De Luca",
    "Saint-Pierre",
    "Lafleur-Dion",
    "Bouchard-Roy",
    "Nguyen-Tran",
]
